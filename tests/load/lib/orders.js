// orders.js - what the k6 scenarios in tests/load/*.js share.
//
// Environment: BASE_URL (default http://127.0.0.1:8080), VUS (16),
// DURATION (30s), SEED_ORDERS (200: orders setup() creates, so the
// scripts need no seeded database), CUSTOMERS (1000).
import http from 'k6/http';
import { check } from 'k6';

export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
export const CUSTOMERS = parseInt(__ENV.CUSTOMERS || '1000', 10);
const SEED_ORDERS = parseInt(__ENV.SEED_ORDERS || '200', 10);
export const JSON_PARAMS = { headers: { 'Content-Type': 'application/json' } };

// One constant-VUs scenario named after the script, with the thresholds
// every load test shares; k6 exits non-zero when one is crossed.
export function options(name) {
  return {
    scenarios: {
      [name]: {
        executor: 'constant-vus',
        vus: parseInt(__ENV.VUS || '16', 10),
        duration: __ENV.DURATION || '30s',
      },
    },
    thresholds: {
      http_req_duration: ['p(95)<250'],
      http_req_failed: ['rate<0.01'],
    },
  };
}

export function randomInt(min, max) {
  return min + Math.floor(Math.random() * (max - min + 1));
}

// A valid order no other request sends: the SKU carries VU, iteration and
// a random tag; total is the exact sum of the items.
export function orderBody(customer) {
  const items = [];
  let cents = 0;
  for (let i = 1; i <= randomInt(1, 3); i++) {
    const quantity = randomInt(1, 4);
    const price = randomInt(100, 20000);
    cents += quantity * price;
    items.push({
      sku: `K${__VU}-${__ITER}-${i}-${randomInt(0, 1e9)}`,
      quantity,
      unit_price: (price / 100).toFixed(2),
    });
  }
  return JSON.stringify({ customer_id: customer, currency: 'USD', total: (cents / 100).toFixed(2), items });
}

export function createOrder(customer) {
  const res = http.post(`${BASE_URL}/orders`, orderBody(customer), JSON_PARAMS);
  check(res, { 'POST /orders is 201': (r) => r.status === 201 });
  return res;
}

// setup(): creates SEED_ORDERS orders and hands their ids and customers to
// the VUs, so the GET and list scenarios read orders that surely exist.
export function seed() {
  const ids = [];
  const customers = [];
  for (let i = 0; i < SEED_ORDERS; i++) {
    const customer = randomInt(1, CUSTOMERS);
    const res = http.post(`${BASE_URL}/orders`, orderBody(customer), JSON_PARAMS);
    if (res.status !== 201) {
      throw new Error(`setup: POST /orders answered ${res.status}: ${res.body}`);
    }
    ids.push(res.json('id'));
    customers.push(customer);
  }
  return { ids, customers };
}

export function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

export function getOrder(id) {
  const res = http.get(`${BASE_URL}/orders/${id}`, { tags: { name: 'GET /orders/{id}' } });
  check(res, { 'GET /orders/{id} is 200': (r) => r.status === 200 });
  return res;
}
