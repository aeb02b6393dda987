#!/bin/sh
# Build the password file from the compose secrets (mqtt_<username>_password, one per account), then run the
# broker.
set -eu
f=/mosquitto/data/passwd
: > "$f"
for secret in /run/secrets/mqtt_*_password; do
    user=${secret#/run/secrets/mqtt_}
    user=${user%_password}
    mosquitto_passwd -b "$f" "$user" "$(cat "$secret")"
done
chmod 0700 "$f"
chown mosquitto:mosquitto "$f" 2>/dev/null || true
exec mosquitto -c /mosquitto/config/mosquitto.conf
