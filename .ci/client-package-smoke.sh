#!/usr/bin/env bash
# The SDK as an app gets it: `npm pack` packages/client, install the tarball into an empty
# scratch project (socket.io-client comes from the registry), start a real server with the
# generated development secret, sign a token with the token CLI, then connect, list, send and
# receive through the installed package. Needs `npm run build` first (dist/src/main.js).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT

(cd "$root/packages/client" && npm pack --silent --pack-destination "$scratch" >/dev/null)
tgz="$(ls "$scratch"/*.tgz)"
echo "packed $(basename "$tgz") ($(du -k "$tgz" | cut -f1) kB)"
listing="$(tar -tzf "$tgz")"
grep -q 'package/dist/index.d.ts' <<<"$listing"
grep -q 'package/dist/browser/realtime-client.js' <<<"$listing"
if grep -q '\.spec\.' <<<"$listing"; then echo "spec files in the package" >&2; exit 1; fi

mkdir "$scratch/app"
cd "$scratch/app"
npm init -y >/dev/null
npm pkg set type=module
npm install --no-audit --no-fund --silent "$tgz"
# The only runtime dependency is socket.io-client (and its own): no server packages.
if ls node_modules | grep -E -q '^(@nestjs|pg|ioredis|@electric-sql)$'; then
  echo "server packages were installed with the SDK" >&2
  exit 1
fi

port="$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
data="$scratch/data"
mkdir -p "$data"
(cd "$root" && DATA_DIR="$data" PORT="$port" HOST=127.0.0.1 LOG_LEVEL=warn exec node dist/src/main.js) >"$scratch/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 150); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/health" >/dev/null || { cat "$scratch/server.log"; exit 1; }
token="$(cd "$root" && DATA_DIR="$data" node dist/src/auth/token.cli.js --user smoke-nurse --org smoke-school --role nurse)"

cat > smoke.mjs <<'JS'
import { connect } from '@white-cross/realtime-client';

const [url, token] = process.argv.slice(2);
const rt = await connect({ url, token });
const { conversation } = await rt.emit('conversation:create', { participantIds: ['smoke-peer'] });
const heard = new Promise((resolve) =>
  rt.on('message:new', ({ message }) => message.conversationId === conversation.id && resolve(message)),
);
const sent = await rt.sendMessage(conversation.id, 'hello from the packed SDK');
const received = await heard;
const { conversations } = await rt.conversations.list();
rt.close();
if (received.id !== sent.id || conversations[0]?.lastMessage?.id !== sent.id) {
  console.error('mismatch', { sent, received, conversations });
  process.exit(1);
}
console.log(`packed SDK: connected, sent and received message seq ${sent.seq}; list ok`);
process.exit(0);
JS
timeout 60 node smoke.mjs "http://127.0.0.1:$port" "$token"
