import { createHash, randomBytes } from 'node:crypto';

/**
 * API keys as callers hold them: `wsk_` and 256 random bits in base64url (43 characters). The prefix
 * makes a leaked key recognisable to secret scanners; the service keeps only its SHA-256.
 */
export const API_KEY_PREFIX = 'wsk_';
const API_KEY = /^wsk_[A-Za-z0-9_-]{43}$/;
const HINT_LENGTH = API_KEY_PREFIX.length + 4;

export const newApiKey = (): string => API_KEY_PREFIX + randomBytes(32).toString('base64url');

export const looksLikeApiKey = (credential: string): boolean => credential.startsWith(API_KEY_PREFIX);

export const isWellFormedApiKey = (credential: string): boolean => API_KEY.test(credential);

/** What is stored and looked up: the key's SHA-256, hex. */
export const apiKeyHash = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

/** The first characters, shown in lists so people can tell keys apart (`wsk_Ab12`). */
export const apiKeyHint = (key: string): string => key.slice(0, HINT_LENGTH);
