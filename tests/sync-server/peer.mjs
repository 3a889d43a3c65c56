// A JS automerge-repo peer of the stock sync server, as an organisation's own tools might be:
// it finds a workshop document by its automerge URL, prints what it sees as one JSON line,
// and (with --purpose-prefix) edits the workshop's purpose the way the Rust model stores it
// (meta.purpose is collaborative text), then waits until the server has the change.
//
//   node peer.mjs --server ws://127.0.0.1:3030 --doc automerge:... [--purpose-prefix TEXT]
//
// Prints {"found":true,"title":...,"purpose":...} (and {"edited":true,...} after an edit), or
// {"found":false,"error":...} when the server doesn't have the document. Exit code 0 either
// way; 1 on a usage error or a timeout; used by crates/node/tests/sync_server.rs.

import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import { splice } from "@automerge/automerge"

function args() {
  const out = { timeoutMs: 20000 }
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]]
    if (value === undefined) usage(`${key} needs a value`)
    if (key === "--server") out.server = value
    else if (key === "--doc") out.doc = value
    else if (key === "--purpose-prefix") out.prefix = value
    else if (key === "--timeout-ms") out.timeoutMs = Number(value)
    else usage(`unknown option ${key}`)
  }
  if (!out.server || !out.doc) usage("--server and --doc are required")
  return out
}

function usage(why) {
  console.error(`peer.mjs: ${why}`)
  process.exit(1)
}

function print(value) {
  process.stdout.write(JSON.stringify(value) + "\n")
}

function connect(server) {
  // A fresh repo each time: a new peer id, in-memory only (no storage).
  return new Repo({ network: [new WebSocketClientAdapter(server, 200)], sharePolicy: async () => true })
}

async function main() {
  const { server, doc, prefix, timeoutMs } = args()
  setTimeout(() => {
    console.error("peer.mjs: timed out")
    process.exit(1)
  }, timeoutMs).unref()

  const repo = connect(server)
  let handle
  try {
    handle = await repo.find(doc)
  } catch (e) {
    print({ found: false, error: String(e && e.message ? e.message : e) })
    await repo.shutdown()
    process.exit(0)
  }
  const seen = handle.doc()
  print({ found: true, title: String(seen.meta.title), purpose: String(seen.meta.purpose) })
  if (prefix === undefined) {
    await repo.shutdown()
    process.exit(0)
  }

  // Edit as a text splice at the start, as a person typing would.
  handle.change((d) => splice(d, ["meta", "purpose"], 0, 0, prefix))
  const expected = String(handle.doc().meta.purpose)

  // The server has the change once a second, separate peer gets it from the server.
  const checker = connect(server)
  for (;;) {
    try {
      const other = await checker.find(doc)
      if (String(other.doc().meta.purpose) === expected) break
    } catch {
      // Not there yet.
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  print({ edited: true, purpose: expected })
  await checker.shutdown()
  await repo.shutdown()
  process.exit(0)
}

main().catch((e) => {
  console.error(`peer.mjs: ${e && e.stack ? e.stack : e}`)
  process.exit(1)
})
