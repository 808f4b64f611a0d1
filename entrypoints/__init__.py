"""The ways into Baton: the web process (``http``), the ``baton`` command (``cli``) and the change-event
listener. They may import the application (``baton``), adapters and messages; nothing below imports them."""
