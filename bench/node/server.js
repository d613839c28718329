// server.js - the classic Node.js order service, the comparison point of
// bench/run (NODE=1).  Written the way such a service usually is: Express,
// a pg Pool, node-redis with a read-through cache (SETEX 120, delete on
// write), and one JSON log line per request on stdout.  It serves the
// same schema and the same JSON shape as orderd, so the same wrk scripts
// drive both; it is deliberately not tuned beyond that.
//
//   DATABASE_URL=postgres://... REDIS_URL=redis://... PORT=3000 node server.js
//   WORKERS=2 ...      a node:cluster of 2 processes sharing the port
//   PG_POOL_MAX=8      pool size (default 8, orderd's db_pool_size)
'use strict';

const cluster = require('node:cluster');
const crypto = require('node:crypto');
const express = require('express');
const { Pool } = require('pg');
const { createClient } = require('redis');

const PORT = Number(process.env.PORT || 3000);
const HOST = process.env.HOST || '127.0.0.1';
const WORKERS = Number(process.env.WORKERS || 1);
const CACHE_TTL_S = 120;
// Its own key space: orderd shares the Redis during a benchmark.
const cacheKey = (id) => `node:order:${id}`;

const COLUMNS = 'id, customer_id, status, currency, total::text AS total, items, version, created_at, updated_at';
const TRANSITIONS = {
  paid: ['pending'],
  shipped: ['paid'],
  delivered: ['shipped'],
  cancelled: ['pending', 'paid'],
};

function toJson(row) {
  return {
    id: Number(row.id),
    customer_id: Number(row.customer_id),
    status: row.status,
    currency: row.currency,
    total: row.total,
    items: row.items,
    version: Number(row.version),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

function problem(res, status, detail) {
  res.status(status).type('application/problem+json').send(JSON.stringify({
    type: 'about:blank', title: detail, status, detail, request_id: res.locals.requestId,
  }));
}

function parseId(text) {
  return /^[1-9][0-9]{0,17}$/.test(text) ? text : null;
}

async function main() {
  const pool = new Pool({
    connectionString: process.env.DATABASE_URL,
    max: Number(process.env.PG_POOL_MAX || 8),
  });
  const redis = createClient({ url: process.env.REDIS_URL });
  redis.on('error', (err) => console.error(JSON.stringify({ level: 'error', msg: 'redis', error: err.message })));
  await redis.connect();

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(express.json({ limit: '64kb' }));

  app.use((req, res, next) => {
    const start = process.hrtime.bigint();
    res.locals.requestId = req.get('X-Request-ID') || crypto.randomUUID();
    res.set('X-Request-ID', res.locals.requestId);
    res.on('finish', () => {
      console.log(JSON.stringify({
        ts: new Date().toISOString(), level: 'info', msg: 'request', request_id: res.locals.requestId,
        method: req.method, path: req.originalUrl, status: res.statusCode,
        duration_ms: Number(process.hrtime.bigint() - start) / 1e6,
        bytes: Number(res.get('Content-Length') || 0), remote: req.socket.remoteAddress,
      }));
    });
    next();
  });

  app.get('/healthz', (req, res) => res.json({ status: 'ok' }));

  app.get('/orders/:id', async (req, res, next) => {
    try {
      const id = parseId(req.params.id);
      if (!id) return problem(res, 400, 'the order id must be a positive integer');
      const cached = await redis.get(cacheKey(id));
      if (cached) {
        res.set('X-Cache', 'HIT');
        return res.type('application/json').send(cached);
      }
      const { rows } = await pool.query(`SELECT ${COLUMNS} FROM orders WHERE id = $1`, [id]);
      if (rows.length === 0) return problem(res, 404, `order ${id} does not exist`);
      const body = JSON.stringify(toJson(rows[0]));
      await redis.setEx(cacheKey(id), CACHE_TTL_S, body);
      res.set('X-Cache', 'MISS');
      return res.type('application/json').send(body);
    } catch (err) {
      return next(err);
    }
  });

  app.get('/orders', async (req, res, next) => {
    try {
      const customer = parseId(String(req.query.customer_id || ''));
      const limit = Math.min(Number(req.query.limit || 20), 100);
      if (!customer || !(limit >= 1)) return problem(res, 400, 'customer_id and limit are required');
      const { rows } = await pool.query(
        `SELECT ${COLUMNS} FROM orders WHERE customer_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
        [customer, limit]);
      return res.json({ data: rows.map(toJson), next_cursor: null });
    } catch (err) {
      return next(err);
    }
  });

  app.post('/orders', async (req, res, next) => {
    try {
      const { customer_id: customer, currency = 'USD', total, items = [] } = req.body || {};
      if (!Number.isInteger(customer) || customer <= 0 || typeof total !== 'string' ||
          !/^\d{1,10}(\.\d{1,2})?$/.test(total) || !Array.isArray(items) || !/^[A-Z]{3}$/.test(currency)) {
        return problem(res, 422, 'the order is not valid');
      }
      const { rows } = await pool.query(
        `INSERT INTO orders (customer_id, currency, total, items) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
        [customer, currency, total, JSON.stringify(items)]);
      res.status(201).location(`/orders/${rows[0].id}`);
      return res.json(toJson(rows[0]));
    } catch (err) {
      return next(err);
    }
  });

  app.patch('/orders/:id', async (req, res, next) => {
    try {
      const id = parseId(req.params.id);
      const to = req.body && req.body.status;
      if (!id) return problem(res, 400, 'the order id must be a positive integer');
      if (!TRANSITIONS[to]) return problem(res, 422, 'status is not valid');
      const { rows } = await pool.query(
        `UPDATE orders SET status = $2, version = version + 1, updated_at = now()
         WHERE id = $1 AND status = ANY($3) RETURNING ${COLUMNS}`,
        [id, to, TRANSITIONS[to]]);
      await redis.del(cacheKey(id));
      if (rows.length === 0) return problem(res, 409, 'the order cannot make this change');
      return res.json(toJson(rows[0]));
    } catch (err) {
      return next(err);
    }
  });

  app.use((req, res) => problem(res, 404, 'no such resource'));
  // four parameters: that is how Express tells an error handler apart
  app.use((err, req, res, next) => { // eslint-disable-line no-unused-vars
    if (err.type === 'entity.parse.failed') return problem(res, 400, 'malformed JSON');
    console.error(JSON.stringify({ level: 'error', msg: 'unhandled', error: err.message }));
    return problem(res, 500, 'internal error');
  });

  const server = app.listen(PORT, HOST, () => {
    console.log(JSON.stringify({ level: 'info', msg: 'listening', listen: `${HOST}:${PORT}`, pid: process.pid }));
  });
  const stop = () => {
    server.close(() => Promise.allSettled([pool.end(), redis.quit()]).then(() => process.exit(0)));
    // keep-alive clients may hold the server open; do not wait for them
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (WORKERS > 1 && cluster.isPrimary) {
  for (let i = 0; i < WORKERS; i++) cluster.fork();
  const stopAll = () => {
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
  };
  process.on('SIGTERM', stopAll);
  process.on('SIGINT', stopAll);
  cluster.on('exit', () => {
    if (Object.keys(cluster.workers).length === 0) process.exit(0);
  });
} else {
  main().catch((err) => {
    console.error(JSON.stringify({ level: 'error', msg: 'start-up failed', error: err.message }));
    process.exit(1);
  });
}
