#!/bin/sh
# Build the password file from the compose secrets, then run the broker.
set -eu
f=/mosquitto/data/passwd
: > "$f"
mosquitto_passwd -b "$f" labd "$(cat /run/secrets/mqtt_labd_password)"
mosquitto_passwd -b "$f" tech "$(cat /run/secrets/mqtt_tech_password)"
chmod 0700 "$f"
chown mosquitto:mosquitto "$f" 2>/dev/null || true
exec mosquitto -c /mosquitto/config/mosquitto.conf
