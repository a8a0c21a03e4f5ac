from levier.lib.testing.smtp import smtp_server

__all__ = ["smtp_server"]
