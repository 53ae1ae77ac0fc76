import { hasAdminCredentials } from './admin-credentials';

describe('hasAdminCredentials', () => {
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  it('accepts admin with the configured password', () => {
    expect(hasAdminCredentials(basic('admin', 'correct horse battery'), 'correct horse battery')).toBe(true);
  });

  it.each([
    ['no header', undefined],
    ['another scheme', 'Bearer abc'],
    ['a wrong password', basic('admin', 'wrong')],
    ['another user', basic('root', 'correct horse battery')],
  ])('refuses %s', (_case, header) => {
    expect(hasAdminCredentials(header, 'correct horse battery')).toBe(false);
  });
});
