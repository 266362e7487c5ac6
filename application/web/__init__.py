"""`fdp web`: upload a photo, see every face boxed with its predicted age bucket, gender and age.

The page never loads a model: faces are found here (application/face_detection.py) and their crops are sent
to the model server through the client library (serving/client/model_client.py). Uploads stay in memory.
"""
