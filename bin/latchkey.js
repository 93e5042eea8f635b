#!/usr/bin/env node
// `npx latchkey ...`: the operator CLI, written in TypeScript and run through tsx (no build step).
import { register } from 'tsx/esm/api';

register();
await import('../cli/latchkey.ts');
