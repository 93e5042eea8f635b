// Users, as an operator sees them: list, look up, create, disable.
import type { User as Account } from '../accounts.ts';
import { ServiceError } from '../errors.ts';
import { iso, type Actor, type Services } from './context.ts';
import type { Input, Output, NewUser, User, UserChanges, UserPage, UserQuery } from './schemas.ts';

export function userView(user: Account): Output<typeof User> {
  return { id: user.id, email: user.email, name: user.name, email_verified: user.emailVerified, disabled: user.disabled, created_at: iso(user.createdAt) };
}

export function userOperations({ accounts, record }: Services) {
  async function get(id: string): Promise<Output<typeof User>> {
    const user = await accounts.findById(id);
    if (!user) throw new ServiceError(`no user ${id}`, 'not_found');
    return userView(user);
  }

  return {
    get,

    async list(query: Input<typeof UserQuery>): Promise<Output<typeof UserPage>> {
      const users = await accounts.page(query);
      const full = users.length === query.limit;
      return { users: users.map(userView), next_cursor: full ? (users.at(-1)?.id ?? null) : null };
    },

    /** The user with this email address, or a not_found refusal (the CLI names users by email). */
    async byEmail(email: string): Promise<Output<typeof User>> {
      const user = await accounts.findByEmail(email);
      if (!user) throw new ServiceError(`no user ${email}`, 'not_found', 'user');
      return userView(user);
    },

    async add(input: Input<typeof NewUser>, actor: Actor): Promise<Output<typeof User>> {
      const user = await accounts.create({ email: input.email, password: input.password, name: input.name, emailVerified: input.email_verified });
      await record(actor, { event: 'user.created', accountId: user.id });
      return userView(user);
    },

    async update(id: string, changes: Input<typeof UserChanges>, actor: Actor): Promise<Output<typeof User>> {
      if (!(await accounts.setDisabled(id, changes.disabled))) throw new ServiceError(`no user ${id}`, 'not_found');
      await record(actor, { event: changes.disabled ? 'user.disabled' : 'user.enabled', accountId: id });
      return get(id);
    },
  };
}
