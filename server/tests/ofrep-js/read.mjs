// A stock OpenFeature JavaScript client: the server SDK with the OFREP provider, pointed at a
// running Switchyard. Reads a string, a number, an object and a boolean flag for the context
// given, and prints every resolution's details as one JSON object (server/tests/it/ofrep_js.rs
// checks them). Usage: node read.mjs BASE_URL SDK_TOKEN CONTEXT_JSON
import { OpenFeature } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';

const [baseUrl, token, context] = process.argv.slice(2);
await OpenFeature.setProviderAndWait(
  new OFREPProvider({ baseUrl, headers: { Authorization: `Bearer ${token}` } }),
);
const client = OpenFeature.getClient();
const ctx = JSON.parse(context);
const details = (d) => ({
  value: d.value, variant: d.variant, reason: d.reason, errorCode: d.errorCode ?? null,
});
const out = {
  string: details(await client.getStringDetails('label', 'default', ctx)),
  number: details(await client.getNumberDetails('limit', -1, ctx)),
  object: details(await client.getObjectDetails('layout', {}, ctx)),
  boolean: details(await client.getBooleanDetails('dark-mode', false, ctx)),
  mismatch: details(await client.getNumberDetails('label', -1, ctx)),
  missing: details(await client.getStringDetails('nope', 'fallback', ctx)),
};
console.log(JSON.stringify(out));
await OpenFeature.close();
