"""The photo application, a client of the model server: find, align and judge the faces in a photo, ask
the models through serving/client/, show the answers (`fdp predict`, the web page of `fdp web`). It
never imports the server (tests/test_layering.py)."""
