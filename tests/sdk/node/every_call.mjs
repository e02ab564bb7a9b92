// The eight calls of the Node openai SDK, each with every parameter it takes, against
// CONVOSCOPE_BASE_URL with CONVOSCOPE_API_KEY. Prints one JSON line per call: what was sent
// (method, path and query, as the SDK's fetch saw it) and what came back. Any error ends the
// run with the SDK's message on stderr. Run by tests/sdk/test_node_sdk.py.
import OpenAI from 'openai';

const sent = [];
const client = new OpenAI({
  apiKey: process.env.CONVOSCOPE_API_KEY,
  baseURL: process.env.CONVOSCOPE_BASE_URL,
  maxRetries: 0,
  fetch: async (url, init) => {
    const parsed = new URL(String(url));
    sent.push({ method: init.method, path: parsed.pathname, query: parsed.search });
    return fetch(url, init);
  },
});

const results = [];
async function call(name, run) {
  const before = sent.length;
  const returned = await run();
  results.push({ call: name, requests: sent.slice(before), returned });
}

const conversations = client.conversations;
const items = conversations.items;
const include = ['reasoning.encrypted_content', 'message.output_text.logprobs'];

await call('conversations.create', () =>
  conversations.create({ items: [{ role: 'user', content: 'hello' }], metadata: { topic: 'node' } }));
const id = results[0].returned.id;
await call('conversations.retrieve', () => conversations.retrieve(id));
await call('conversations.update', () => conversations.update(id, { metadata: { topic: 'updated' } }));
await call('items.create', () => items.create(id, {
  items: [1, 2, 3, 4].map((n) => ({ type: 'message', role: 'user', content: `m${n}` })),
  include,
}));
const itemId = results[3].returned.data[0].id;
await call('items.list', async () => {
  const all = [];
  // limit 2 over 5 items: three pages, the SDK sending `after` for the second and third.
  for await (const item of items.list(id, { limit: 2, order: 'asc', include })) all.push(item);
  return all;
});
await call('items.list.after', async () =>
  (await items.list(id, { after: itemId, limit: 100, order: 'desc', include })).data);
await call('items.retrieve', () => items.retrieve(itemId, { conversation_id: id, include }));
await call('items.delete', () => items.delete(itemId, { conversation_id: id }));
await call('conversations.delete', () => conversations.delete(id));
// A misspelt parameter (plain JavaScript has no type check to catch it) is refused, and the
// SDK's BadRequestError says which one.
await call('conversations.create.misspelt', async () => {
  try {
    await conversations.create({ metdata: { topic: 'lost' } });
    return { refused: false };
  } catch (error) {
    if (!(error instanceof OpenAI.BadRequestError)) throw error;
    return { refused: true, status: error.status, param: error.param, code: error.code };
  }
});

for (const result of results) console.log(JSON.stringify(result));
