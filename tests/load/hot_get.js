// hot_get.js - GET of one order again and again (served from the cache).
import { getOrder, options as baseOptions, seed } from './lib/orders.js';

export const options = baseOptions('hot_get');

export function setup() {
  return seed();
}

export default function (data) {
  getOrder(data.ids[0]);
}
