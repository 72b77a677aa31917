// The live-sync peer for butler-bench scenario 9: Yjs's y-websocket relay (Debian's
// node-y-websocket), A -> server -> B on this machine. The relay runs as its own process, as
// butler-server does; A and B are two Y.Docs with WebsocketProviders in this process. Each change
// sets one map entry in A (a checklist result with a note); its latency is the time until B's
// document shows it. Changes go one at a time, 20 ms apart. The relay keeps documents in memory
// only (no persistence configured), so nothing here waits for a disk.
//
//   NODE_PATH=/usr/share/nodejs node ywebsocket_latency.js COUNT
// prints {"count":N,"p50":ms,"p99":ms} on stdout.
const { spawn } = require('child_process')
const net = require('net')
const Y = require('yjs')
const { WebsocketProvider } = require('y-websocket')
const WebSocket = require('ws')

const count = parseInt(process.argv[2] || '200', 10)

function freePort () {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)) })
    s.on('error', reject)
  })
}

function waitFor (predicate, timeoutMs) {
  return new Promise((resolve, reject) => {
    const start = Date.now()
    const tick = () => {
      if (predicate()) return resolve()
      if (Date.now() - start > timeoutMs) return reject(new Error('timed out'))
      setTimeout(tick, 5)
    }
    tick()
  })
}

async function main () {
  const port = await freePort()
  const server = spawn(process.execPath, [require('path').join(require('path').dirname(require.resolve('y-websocket/package.json')), 'bin', 'server.js')], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit']
  })
  try {
    await new Promise((resolve, reject) => {
      server.stdout.on('data', d => { if (String(d).includes('running')) resolve() })
      server.on('exit', c => reject(new Error('relay exited ' + c)))
      setTimeout(() => reject(new Error('relay did not start')), 10000)
    })
    const url = `ws://127.0.0.1:${port}`
    const a = new Y.Doc(); const b = new Y.Doc()
    const pa = new WebsocketProvider(url, 'estate', a, { WebSocketPolyfill: WebSocket })
    const pb = new WebsocketProvider(url, 'estate', b, { WebSocketPolyfill: WebSocket })
    await waitFor(() => pa.synced && pb.synced, 10000)
    const mapA = a.getMap('results'); const mapB = b.getMap('results')
    const latencies = []
    for (let i = 0; i < count; i++) {
      const key = 'stairwell-lights-' + i
      const seen = new Promise(resolve => {
        const observer = () => { if (mapB.has(key)) { mapB.unobserve(observer); resolve(process.hrtime.bigint()) } }
        mapB.observe(observer)
      })
      const start = process.hrtime.bigint()
      mapA.set(key, { result: 'defect', note: '3号楼2单元 楼梯间灯不亮', by: 'li' })
      const end = await Promise.race([seen, new Promise((resolve, reject) => setTimeout(() => reject(new Error('change ' + i + ' did not arrive')), 10000))])
      latencies.push(Number(end - start) / 1e6)
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    pa.destroy(); pb.destroy()
    latencies.sort((x, y) => x - y)
    const pct = p => latencies[Math.min(latencies.length - 1, Math.round((latencies.length - 1) * p))]
    process.stdout.write(JSON.stringify({ count, p50: pct(0.5), p99: pct(0.99) }) + '\n')
  } finally {
    server.kill('SIGTERM')
  }
}

main().then(() => process.exit(0), e => { console.error(String(e)); process.exit(1) })
