#!/usr/bin/env bash
# The secured broker of docker-compose.yml, run in the official apache/kafka image: the same
# single KRaft node as deploy/kafka_local.py (`ews broker start --secure`), with SASL/SCRAM on
# the client listener, the users of deploy/kafka/acls.yaml created when the storage is first
# formatted, and ACLs enforced (`ews topics --grant`, run as admin, grants each user's rights).
# The controller listener stays on the container's loopback.  Passwords come from the
# environment (docker-compose reads them from .env; see deploy/compose.env.example).
# Outside the image (its test) KAFKA_LIBS, KAFKA_DATA, KAFKA_PORT... say where things are.
set -euo pipefail
: "${KAFKA_ADMIN_PASSWORD:?}" "${EWS_WORKER_PASSWORD:?}" "${EWS_WEB_PASSWORD:?}"
: "${TOWNSHIP_PASSWORD:?}" "${ANALYST_PASSWORD:?}"
LIBS=${KAFKA_LIBS:-/opt/kafka/libs}
DATA=${KAFKA_DATA:-/var/lib/kafka/data}
PORT=${KAFKA_PORT:-9092}
CONTROLLER=${KAFKA_CONTROLLER_PORT:-9093}
LISTEN=${KAFKA_LISTEN_HOST:-0.0.0.0}
ADVERTISED=${KAFKA_ADVERTISED_HOST:-kafka}
CONF=${KAFKA_CONF:-/tmp/ews-server.properties}
LOGS=${KAFKA_LOGS:-/tmp/kafka-logs}
mkdir -p "$DATA" "$LOGS"
cat > "$CONF" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER
listeners=SASL_PLAINTEXT://$LISTEN:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER
advertised.listeners=SASL_PLAINTEXT://$ADVERTISED:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER
inter.broker.listener.name=SASL_PLAINTEXT
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-256
sasl.enabled.mechanisms=SCRAM-SHA-256
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$KAFKA_ADMIN_PASSWORD";
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
controller.listener.names=CONTROLLER
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:ANONYMOUS
allow.everyone.if.no.acl.found=false
log.dirs=$DATA
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPERTIES
scram() { echo "SCRAM-SHA-256=[name=$1,password=$2]"; }
java -cp "$LIBS/*" -Dkafka.logs.dir="$LOGS" kafka.tools.StorageTool format \
  -t "${KAFKA_CLUSTER_ID:-4L6g3nShT-eMCtK--X86sw}" -c "$CONF" --standalone --ignore-formatted \
  --add-scram "$(scram admin "$KAFKA_ADMIN_PASSWORD")" \
  --add-scram "$(scram ews-worker "$EWS_WORKER_PASSWORD")" \
  --add-scram "$(scram ews-web "$EWS_WEB_PASSWORD")" \
  --add-scram "$(scram township "$TOWNSHIP_PASSWORD")" \
  --add-scram "$(scram analyst "$ANALYST_PASSWORD")"
exec java "-Xmx${KAFKA_HEAP:-512m}" -Dkafka.logs.dir="$LOGS" \
  ${KAFKA_LOG4J:+"-Dlog4j2.configurationFile=$KAFKA_LOG4J"} -cp "$LIBS/*" kafka.Kafka "$CONF"
