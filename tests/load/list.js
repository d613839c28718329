// list.js - a customer's newest orders: GET /orders?customer_id=N&limit=20.
import http from 'k6/http';
import { check } from 'k6';
import { BASE_URL, options as baseOptions, pick, seed } from './lib/orders.js';

export const options = baseOptions('list');

export function setup() {
  return seed();
}

export default function (data) {
  const res = http.get(`${BASE_URL}/orders?customer_id=${pick(data.customers)}&limit=20`,
    { tags: { name: 'GET /orders?customer_id' } });
  check(res, {
    'list is 200': (r) => r.status === 200,
    'list has data': (r) => Array.isArray(r.json('data')),
  });
}
