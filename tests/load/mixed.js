// mixed.js - 90% GET, 5% POST, 5% PATCH {"status":"paid"} of an order this
// VU created (still pending, so the change is allowed; with none at hand
// the PATCH becomes a POST).
import http from 'k6/http';
import { check } from 'k6';
import {
  BASE_URL, CUSTOMERS, JSON_PARAMS, createOrder, getOrder, options as baseOptions, pick, randomInt, seed,
} from './lib/orders.js';

export const options = baseOptions('mixed');

// per VU: every VU runs in its own JavaScript runtime
const fresh = [];

export function setup() {
  return seed();
}

export default function (data) {
  const r = Math.random();
  if (r < 0.9) {
    getOrder(pick(data.ids));
    return;
  }
  if (r < 0.95 && fresh.length > 0) {
    const res = http.patch(`${BASE_URL}/orders/${fresh.shift()}`, JSON.stringify({ status: 'paid' }),
      Object.assign({ tags: { name: 'PATCH /orders/{id}' } }, JSON_PARAMS));
    check(res, { 'PATCH /orders/{id} is 200': (r2) => r2.status === 200 });
    return;
  }
  const res = createOrder(randomInt(1, CUSTOMERS));
  if (res.status === 201) {
    fresh.push(res.json('id'));
  }
}
