# /etc/mtsync/load-env.sh: gives mtsync commands run outside systemd (the cron jobs, an operator's commands) the
# same secrets as the service, from /etc/mtsync/mtsync.env. Not run, but read by bash: /etc/cron.d/mtsync names it
# in BASH_ENV, which bash reads before each job's command; docs/operations.md shows the operator's shell function.
#
#   install -m 0644 -o root -g root deploy/load-env.sh /etc/mtsync/load-env.sh
#
# A missing or unreadable file is passed over quietly, as systemd's "EnvironmentFile=-" does: mtsync then names
# the variable it misses (exit 78), which says more than an error from here would.
if [ -r /etc/mtsync/mtsync.env ]; then
    set -a  # export every variable the file assigns, as EnvironmentFile= does, so mtsync sees them
    . /etc/mtsync/mtsync.env
    set +a
fi
