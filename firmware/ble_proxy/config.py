"""Settings of one BLE proxy: edit this file before copying it to the board.

Plain module attributes so MicroPython reads them without parsing anything; main.run() takes
any object with the same attributes (the tests pass their own).
"""

WIFI_SSID = "my-network"
WIFI_PASSWORD = ""

# The hub's address and proxy port (protocol.DEFAULT_PORT unless the hub says otherwise).
HUB_HOST = "192.168.1.10"
HUB_PORT = 7700

# Must match the proxy's entry on the hub: 1..32 of A-Z a-z 0-9 _ . -, and its token.
# Generate a token with: python -c "import secrets; print(secrets.token_hex(16))"
PROXY_ID = "proxy-1"
TOKEN = ""

# Announce the proxy on the network (mDNS `_maderas-proxy._tcp`) so the hub lists it under Discovered;
# pairing it there shows the TOKEN to put above. Needs the `mdns` package on the board too.
ANNOUNCE = True

# Wi-Fi and BLE share the one radio: a longer window hears more but leaves Wi-Fi less airtime.
SCAN_INTERVAL_US = 320000
SCAN_WINDOW_US = 120000
# Passive: only listen. Active also asks every device for its scan response (more airtime).
ACTIVE_SCAN = False

# Records kept while the hub is slow or away; the oldest go first (counted as dropped).
BUFFER_SIZE = 256
BATCH_MS = 100
# Main loop period: how often the radio buffer and the hub link are serviced.
TICK_MS = 10

WIFI_TIMEOUT_MS = 20000
HANDSHAKE_TIMEOUT_MS = 10000
CONNECT_TIMEOUT_MS = 5000
# Ping the hub after this much silence; reconnect after IDLE_TIMEOUT_MS with no frame at all.
PING_MS = 15000
IDLE_TIMEOUT_MS = 45000
# Retry delays double from the first to the last after each failure.
BACKOFF_MIN_MS = 1000
BACKOFF_MAX_MS = 60000
