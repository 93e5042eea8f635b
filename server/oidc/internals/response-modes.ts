// Every response mode's handler, wrapped as the provider registers it.
//
// Relies on (oidc-provider 9.13.3, undocumented; pinned by test/oidc-internals/response-modes.test.ts):
// - the Provider constructor registers its built-in response modes (query, fragment, form_post,
//   and the JWT and web_message ones when enabled) by calling `this.registerResponseMode(name,
//   handler)` (lib/helpers/initialize_app.js), so a subclass's override sees each of them, and
//   what it passes on to the base method is the handler that answers;
// - a handler is called as `(ctx, redirectUri, payload)`, bound to the provider.
// `registerResponseMode` is typed but undocumented: the maintainer calls it "an internal
// undocumented method intended to register a mode, not overload one" (panva/node-oidc-provider#365).
//
// Why not the public API: there is no hook between the provider deciding an authorization
// answer and writing it to the redirect URI; `renderError` covers only errors that are not
// sent back to the client, and a post-middleware would find the redirect already made.
import Provider from 'oidc-provider';

export type RegisteredResponseMode = Parameters<Provider['registerResponseMode']>[1];

/** A Provider class whose response mode handlers are `wrap(name, handler)` instead of `handler`. */
export function providerWrappingResponseModes(wrap: (name: string, handler: RegisteredResponseMode) => RegisteredResponseMode): typeof Provider {
  return class WrappedResponseModesProvider extends Provider {
    override registerResponseMode(name: string, handler: RegisteredResponseMode): void {
      super.registerResponseMode(name, wrap(name, handler));
    }
  };
}
