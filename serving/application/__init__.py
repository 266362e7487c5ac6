"""The end-user application on top of the client: find, align and judge the faces in a photo, ask the
models through the client library, show the answers (`fdp predict`, the web page of `fdp web`)."""
