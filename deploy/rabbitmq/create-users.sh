#!/bin/sh
# One RabbitMQ user per service, allowed to declare the crm.events exchanges and its own queues
# (named "<service>.<purpose>"), publish to crm.events, consume its own queues, and dead-letter /
# replay through the default exchange; nothing on another service's queues. Idempotent: creates
# a missing user, resets an existing one's password and rights. The same rights as the Permission
# objects of deploy/k8s/platform/base/rabbitmq.yaml (a test compares them).
# docker-compose.yml runs it once the broker is healthy (the one-shot `rabbitmq-users`).
#   CUSTOMER_AMQP_PASSWORD, VIEWING_AMQP_PASSWORD, ANALYTICS_AMQP_PASSWORD, SYNC_AMQP_PASSWORD,
#   WEBHOOK_AMQP_PASSWORD (the token issuer uses no broker: no user)
#   RABBITMQCTL       how to call rabbitmqctl (default: rabbitmqctl, the local node)
#   AMQP_VHOST        the virtual host (default: /)
#   AMQP_USER_PREFIX  prefixed to each user name (default: none; for tests sharing one broker)
set -eu
ctl=${RABBITMQCTL:-rabbitmqctl}
vhost=${AMQP_VHOST:-/}
prefix=${AMQP_USER_PREFIX:-}

for pair in customer:customer-service viewing:viewing-service analytics:analytics-service sync:sync-worker webhook:webhook-service; do
    short=${pair%%:*}
    service=${pair#*:}
    variable=$(echo "$short" | tr '[:lower:]' '[:upper:]')_AMQP_PASSWORD
    password=$(printenv "$variable" || true)
    if [ -z "$password" ]; then
        echo "crm: $variable must be set" >&2
        exit 1
    fi
    user="$prefix$service"
    own=$(echo "$service" | sed 's/[.]/\\./g')
    if $ctl -q list_users | cut -f1 | grep -qx "$user"; then
        $ctl -q change_password "$user" "$password"
    else
        $ctl -q add_user "$user" "$password"
    fi
    $ctl -q set_user_tags "$user"
    $ctl -q set_permissions -p "$vhost" "$user" \
        "^(crm\\.events|crm\\.events\\.unrouted|$own\\..+)\$" \
        "^(crm\\.events|crm\\.events\\.unrouted|amq\\.default|$own\\..+)\$" \
        "^(crm\\.events|crm\\.events\\.unrouted|$own\\..+)\$"
    echo "crm: RabbitMQ user $user ready on vhost $vhost"
done
