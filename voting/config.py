"""Settings with safe defaults.

Read in this order, later ones winning: these defaults, ``instance/config.py`` (if present),
environment variables prefixed ``VOTING_`` (values parsed as JSON when they can be, e.g.
``VOTING_CHECKIN_CODE_PERIOD=20``), and ``DATABASE_URL`` for the database.
"""

# Database. SQLite in instance/ unless DATABASE_URL names another (PostgreSQL for scale-out).
SQLALCHEMY_DATABASE_URI = None  # filled in by the factory from DATABASE_URL or instance/voting.db
# Extra create_engine() options. A database server gets pool_pre_ping unless set here; SQLite, a
# file that cannot drop a connection, does without (a query less per request; voting/database.py).
SQLALCHEMY_ENGINE_OPTIONS = {}

# Secret key for sessions, CSRF and signed codes. If unset, one is generated into
# instance/secret_key on first start and kept there.
SECRET_KEY = None

# Public address used in printed QR codes (activation cards, the big screen). When unset,
# the address the request came in on is used.
PUBLIC_BASE_URL = None

# Locales: Chinese first, English second.
BABEL_DEFAULT_LOCALE = "zh_CN"
BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
LANGUAGES = ["zh_CN", "en"]

# Request bodies larger than this are refused with 413 (a roster file is far smaller).
MAX_CONTENT_LENGTH = 10 * 1024 * 1024
ROSTER_MAX_ROWS = 20000

# Sign-in QR code on the big screen: a new code every CHECKIN_CODE_PERIOD seconds, each
# accepted for CHECKIN_CODE_WINDOWS periods (15 s x 2 = valid for 15 to 30 s).
CHECKIN_CODE_PERIOD = 15
CHECKIN_CODE_WINDOWS = 2
# After a fresh code has been scanned, the deputy has this long to tap "sign in".
CHECKIN_TICKET_SECONDS = 120

# Waiting phones (voting.ballots.live): server-sent events on an async worker ("auto" = when gevent
# is running; True/False to force), one database poll per worker process this often, and each
# stream closed after about this long so proxies recycle it (the phone reconnects by itself).
BALLOT_STREAM = "auto"
BALLOT_POLL_SECONDS = 0.3
BALLOT_STREAM_SECONDS = 120
# The big screen shows a closed ballot's results this long after close (unless another opens).
SCREEN_RESULTS_MINUTES = 10

# Quorum default for new meetings: present >= ceil(N * numerator / denominator).
QUORUM_NUMERATOR = 2
QUORUM_DENOMINATOR = 3

# Organizer sessions end after this much idleness, and in any case after the maximum.
ORGANIZER_IDLE_MINUTES = 120
ORGANIZER_MAX_HOURS = 12
# A deputy's phone stays signed in this long (a congress lasts several days), until revoked.
DEPUTY_DEVICE_DAYS = 30

# Rate limits (voting/ratelimit.py, counted by the limits package). memory:// is per process; use
# redis:// with several servers.
RATELIMIT_STORAGE_URI = "memory://"
RATELIMIT_LOGIN = "10 per minute"
RATELIMIT_ACTIVATION = "30 per minute"
RATELIMIT_CHECKIN = "30 per minute"

# Reverse proxies in front of the app (nginx): how many to trust for X-Forwarded-For/-Proto/-Host.
PROXY_COUNT = 0

# Cookies.
SESSION_COOKIE_NAME = "voting_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = False  # set True behind HTTPS
DEVICE_COOKIE_NAME = "voting_device"

# CSRF tokens last as long as the session; a deputy may keep a page open for a while.
WTF_CSRF_TIME_LIMIT = None

# Consultations, the resident's side (voting/consultations/public_views.py). The privacy notice
# before an opinion is sent names who collects it (None: "the office of the People's Congress
# Standing Committee", in the reader's language) and how long contact details are kept;
# `flask purge-personal-data` deletes them after CONSULTATION_CONTACT_RETENTION_DAYS.
CONSULTATION_COLLECTOR = None
# A new draft takes comments for this many days unless the organizer sets its deadline.
CONSULTATION_COMMENT_DAYS = 30
CONSULTATION_CONTACT_RETENTION_DAYS = 365
# Opinions are limited per client (an anonymous random cookie, or the deputy's bound phone), since
# a whole neighbourhood meeting may share one address; the per-address ceiling is only a backstop
# against a script that throws its cookies away.
RATELIMIT_OPINION = "10 per minute;100 per day"
RATELIMIT_OPINION_ADDRESS = "1000 per 10 minutes"
CLIENT_COOKIE_NAME = "voting_client"
