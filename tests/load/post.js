// post.js - POST /orders with a unique body every time.
import { CUSTOMERS, createOrder, options as baseOptions, randomInt } from './lib/orders.js';

export const options = baseOptions('post');

export default function () {
  createOrder(randomInt(1, CUSTOMERS));
}
