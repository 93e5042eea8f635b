// The account area (connected apps) signs users in through the provider as a first-party client
// of the server itself; its grants are not delegations a user made to an app.
export const ACCOUNT_AREA_CLIENT_ID = 'latchkey-account';
