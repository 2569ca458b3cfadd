/** Version of this engine, and the Redis version whose behaviour it follows (clients check it). */
export const VERSION = '0.1.0';
export const REDIS_VERSION = '7.2.4';
