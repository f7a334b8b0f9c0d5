// Preloaded into a service's process (NODE_OPTIONS=--import <this file>): names listed in
// TEST_HOSTS ("name=address,address;name=address") resolve to those addresses, in that order,
// for every lookup in the process (net.connect, fastify's listen, the worker's resolver), as an
// /etc/hosts entry would; other names go to the system. Lets a test give a name AAAA records
// only, or both families, without touching the machine.
import dns from 'node:dns';
import { syncBuiltinESMExports } from 'node:module';
import process from 'node:process';

const table = new Map(
  (process.env.TEST_HOSTS ?? '')
    .split(';')
    .filter(Boolean)
    .map((entry) => {
      const [name, addresses] = entry.split('=');
      return [name, addresses.split(',').map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))];
    }),
);

/** The listed addresses of `hostname` of the family asked for, or undefined for other names. */
function listed(hostname, options) {
  const entries = table.get(hostname);
  if (!entries) return undefined;
  const asked = typeof options === 'number' ? options : options?.family;
  const family = asked === 'IPv4' ? 4 : asked === 'IPv6' ? 6 : (asked ?? 0);
  return entries.filter((e) => family === 0 || e.family === family);
}

const systemLookup = dns.lookup;
dns.lookup = function lookup(hostname, options, callback) {
  if (typeof options === 'function') [callback, options] = [options, {}];
  const found = listed(hostname, options);
  if (!found) return systemLookup.call(this, hostname, options, callback);
  process.nextTick(() => {
    if (found.length === 0) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }));
    if (options?.all) return callback(null, found);
    callback(null, found[0].address, found[0].family);
  });
};

const systemPromiseLookup = dns.promises.lookup;
dns.promises.lookup = async function lookup(hostname, options) {
  const found = listed(hostname, options);
  if (!found) return systemPromiseLookup.call(this, hostname, options);
  if (found.length === 0) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return options?.all ? found : found[0];
};

syncBuiltinESMExports();
