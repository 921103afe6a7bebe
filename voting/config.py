"""Settings with safe defaults.

Read in this order, later ones winning: these defaults, ``instance/config.py`` (if present),
environment variables prefixed ``VOTING_`` (values parsed as JSON when they can be, e.g.
``VOTING_CHECKIN_CODE_PERIOD=20``), and ``DATABASE_URL`` for the database.
"""

# Database. SQLite in instance/ unless DATABASE_URL names another (PostgreSQL for scale-out).
SQLALCHEMY_DATABASE_URI = None  # filled in by the factory from DATABASE_URL or instance/voting.db
SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

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

# Quorum default for new meetings: present >= ceil(N * numerator / denominator).
QUORUM_NUMERATOR = 2
QUORUM_DENOMINATOR = 3

# Organizer sessions end after this much idleness, and in any case after the maximum.
ORGANIZER_IDLE_MINUTES = 120
ORGANIZER_MAX_HOURS = 12
# A deputy's phone stays signed in this long (a congress lasts several days), until revoked.
DEPUTY_DEVICE_DAYS = 30

# Rate limits (Flask-Limiter). memory:// is per process; use redis:// with several servers.
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
