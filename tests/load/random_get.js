// random_get.js - GET of a random order among those setup() created.
import { getOrder, options as baseOptions, pick, seed } from './lib/orders.js';

export const options = baseOptions('random_get');

export function setup() {
  return seed();
}

export default function (data) {
  getOrder(pick(data.ids));
}
