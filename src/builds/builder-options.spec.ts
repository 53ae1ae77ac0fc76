import { parseBuilderOptions } from './builder-options';

describe('parseBuilderOptions', () => {
  it('fills in the defaults of each builder', () => {
    expect(parseBuilderOptions('componentize-js', undefined)).toEqual({ entry: 'index.js', wit: 'wit', disableFeatures: [] });
    expect(parseBuilderOptions('componentize-js', {})).toEqual({ entry: 'index.js', wit: 'wit', disableFeatures: [] });
    expect(parseBuilderOptions('cargo', null)).toEqual({ features: [] });
  });

  it('keeps valid options', () => {
    expect(
      parseBuilderOptions('componentize-js', { entry: 'src/app.js', wit: 'wit/world.wit', world: 'example:greeter/greeter@0.1.0', disableFeatures: ['http', 'fetch-event'] }),
    ).toEqual({
      entry: 'src/app.js',
      wit: 'wit/world.wit',
      world: 'example:greeter/greeter@0.1.0',
      disableFeatures: ['http', 'fetch-event'],
    });
    expect(parseBuilderOptions('cargo', { package: 'hello-command', bin: 'hello_2', features: ['cli', 'serde/derive'], adapter: 'reactor' })).toEqual({
      package: 'hello-command',
      bin: 'hello_2',
      features: ['cli', 'serde/derive'],
      adapter: 'reactor',
    });
  });

  it.each([
    ['componentize-js', { entry: '/etc/passwd' }, 'entry'],
    ['componentize-js', { entry: '../outside.js' }, 'entry'],
    ['componentize-js', { entry: 'src/../../outside.js' }, 'entry'],
    ['componentize-js', { entry: './index.js' }, 'entry'],
    ['componentize-js', { entry: 'a//b.js' }, 'entry'],
    ['componentize-js', { entry: 'line\nbreak.js' }, 'entry'],
    ['componentize-js', { entry: 'x'.repeat(257) }, 'entry'],
    ['componentize-js', { entry: 42 }, 'entry'],
    ['componentize-js', { wit: '..' }, 'wit'],
    ['componentize-js', { world: 'Not A World' }, 'world'],
    ['componentize-js', { world: '--help' }, 'world'],
    ['componentize-js', { disableFeatures: ['network'] }, 'disableFeatures'],
    ['componentize-js', { disableFeatures: ['http', 'http'] }, 'disableFeatures'],
    ['componentize-js', { disableFeatures: 'http' }, 'disableFeatures'],
    ['componentize-js', { engine: '/tmp/evil.wasm' }, '"engine"'],
    ['cargo', { package: '--manifest-path=/etc' }, 'package'],
    ['cargo', { package: 'a'.repeat(65) }, 'package'],
    ['cargo', { bin: 'a b' }, 'bin'],
    ['cargo', { features: ['ok', '--config=build.rustc="x"'] }, 'features'],
    ['cargo', { features: Array.from({ length: 65 }, (_, i) => `f${i}`) }, 'features'],
    ['cargo', { adapter: 'proxy' }, 'adapter'],
    ['cargo', { target: 'x86_64-unknown-linux-gnu' }, '"target"'],
  ] as const)('refuses %s options %j, naming %s', (builder, options, field) => {
    expect(() => parseBuilderOptions(builder, options)).toThrow(expect.objectContaining({ code: 'INVALID_BUILDER_OPTIONS', message: expect.stringContaining(`option ${field} `) }));
  });

  it('refuses options that are not an object, and builders that do not exist', () => {
    expect(() => parseBuilderOptions('cargo', ['--release'])).toThrow(expect.objectContaining({ code: 'INVALID_BUILDER_OPTIONS', message: 'cargo options must be an object' }));
    expect(() => parseBuilderOptions('make' as never, {})).toThrow(
      expect.objectContaining({ code: 'INVALID_BUILDER_OPTIONS', message: expect.stringContaining('builder "make" is not known') }),
    );
  });
});
