// The app side in Node: open a Live session with @google/genai and a token minted by
// livetokens, send one text turn, print what happened as one JSON line on stdout.
//
// Input (stdin, JSON): {token, baseUrl, model, config, text}. The token comes on stdin,
// not argv, so it never shows in a process list; it is never printed.
// TLS: the emulator's test CA is trusted through NODE_EXTRA_CA_CERTS (set by the test).
import { GoogleGenAI } from '@google/genai';

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

const input = await readStdin();
const ai = new GoogleGenAI({
  apiKey: input.token,
  httpOptions: { baseUrl: input.baseUrl, apiVersion: 'v1alpha' },
});

let reply = '';
let closed = null;
let turnDone;
const turn = new Promise((resolve) => { turnDone = resolve; });
const timer = setTimeout(() => turnDone('timeout'), 15000);

const session = await ai.live.connect({
  model: input.model,
  config: input.config,
  callbacks: {
    onmessage: (message) => {
      for (const part of message.serverContent?.modelTurn?.parts ?? []) reply += part.text ?? '';
      if (message.serverContent?.turnComplete) turnDone('turnComplete');
    },
    onerror: (event) => { closed = { error: String(event.message ?? event) }; turnDone('error'); },
    onclose: (event) => { closed = { code: event.code, reason: event.reason }; turnDone('closed'); },
  },
});
const setupComplete = session !== undefined;
session.sendClientContent({
  turns: [{ role: 'user', parts: [{ text: input.text }] }],
  turnComplete: true,
});
const ended = await turn;
clearTimeout(timer);
session.close();
console.log(JSON.stringify({ setupComplete, ended, reply, closed }));
