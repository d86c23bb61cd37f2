"""The configuration.yaml and secrets.yaml written on first start."""

from __future__ import annotations

DEFAULT_CONFIGURATION = """\
# Maderas Hub configuration.
#
# Each top-level key is a block: the hub's own blocks (hub, recorder, logger, http)
# or the domain of an integration (modbus_tank, ble_climate, rtsp_camera, ...).
# Every block is optional; a missing block uses the defaults shown below.
# After editing, run `hub check-config` to see every mistake with its file and line.
#
# Want to look around before wiring hardware? `hub demo` starts simulated tanks,
# climate sensors, a camera, a supplier and a command-centre receiver on this machine,
# without touching this file, and opens the dashboard on http://127.0.0.1:8123.
#
# Tags you can use anywhere:
#   !secret NAME          a value from secrets.yaml (keep passwords out of this file)
#   !include FILE         the contents of another YAML file, relative to this one
#   !env_var NAME [dflt]  an environment variable, with an optional default

# The household: name, place and language shown in the dashboard.
hub:
  name: Maderas Hub
  time_zone: America/Mexico_City
  # latitude and longitude let the hub compute sunrise and sunset; optional.
  # latitude: 19.4326
  # longitude: -99.1332
  unit_system: metric
  language: es-MX
  # The address other devices on your network use to reach the hub; optional.
  # internal_url: http://192.168.1.20:8123

# State history. A power cut loses at most one commit interval of history;
# alarms and resupply orders never depend on it (they go through the outbox).
recorder:
  commit_interval: 1s
  purge_keep_days: 10
  exclude:
    entities: []
    domains: []

# Log levels: debug, info, warning, error, critical.
logger:
  default: info
  logs: {}
  #   integrations.modbus_tank: debug

# The local web dashboard and API. The default listens on this machine only;
# set server_host to 0.0.0.0 to reach the dashboard from other devices on the LAN.
http:
  server_host: 127.0.0.1
  server_port: 8123
  # Networks exempt from the per-address login lockout (they still log in).
  trusted_networks: []
  #   - 192.168.1.0/24

# Integrations are added as blocks of their own, named by their domain; each
# integration's page in docs/ lists its options. For example:
#
# modbus_tank:
#   ...
#
# A password or account number belongs in secrets.yaml:
#   password: !secret supplier_password
"""

DEFAULT_SECRETS = """\
# Secrets for configuration.yaml, one `name: value` per line, used as `!secret name`.
# Keep this file out of backups you share and out of version control.
#
# command_center_account: "1234"
# supplier_password: "change-me"
"""
