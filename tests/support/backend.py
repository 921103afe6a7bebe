"""The live test server's own database, opened in the test's process: to set data up and act as an organizer."""

SECRET_KEY = "browser-tests-secret-key-not-for-production"  # the key tests/browser/conftest.py starts the server with


class Backend:
    """An app on the server's SQLite file; ``run(work)`` calls ``work(db)`` in its context and commits."""

    def __init__(self, server):
        from voting import create_app

        self.app = create_app(
            {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{server.log_path.parent}/voting.db", "SECRET_KEY": SECRET_KEY}
        )

    def run(self, work):
        from voting.extensions import db

        with self.app.app_context():
            try:
                result = work(db)
                db.session.commit()
                return result
            finally:
                db.session.remove()

    def close(self):
        from voting.extensions import db

        with self.app.app_context():
            db.engine.dispose()
