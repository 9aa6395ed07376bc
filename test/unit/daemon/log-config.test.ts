import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localRotation, logSizeMax, parseRamSize, validateLogConfig, withDaemonLogDefaults } from '../../../src/daemon/log-config.js';

test('sizes in go-units RAMInBytes form', () => {
  assert.equal(parseRamSize('2k'), 2048);
  assert.equal(parseRamSize('10m'), 10 * 1024 * 1024);
  assert.equal(parseRamSize('1.5g'), 1.5 * 1024 ** 3);
  assert.equal(parseRamSize('512'), 512);
  assert.equal(parseRamSize('3KiB'), 3072);
  assert.throws(() => parseRamSize('abc'), /invalid size: 'abc'/);
});

test("Docker's drivers and options; others refused with Docker's texts", () => {
  validateLogConfig(undefined);
  validateLogConfig({ Type: '', Config: {} });
  validateLogConfig({ Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3', tag: 'x' } });
  validateLogConfig({ Type: 'local', Config: { 'max-size': '1m' } });
  validateLogConfig({ Type: 'none' });
  assert.throws(() => validateLogConfig({ Type: 'syslog' }), (err: Error) => err.message === "logger: no log driver named 'syslog' is registered");
  assert.throws(() => validateLogConfig({ Type: 'nosuch' }), (err: Error) => err.message === 'error looking up logging plugin nosuch: plugin "nosuch" not found');
  assert.throws(() => validateLogConfig({ Type: '', Config: { foo: 'bar' } }), /unknown log opt 'foo' for json-file log driver/);
  assert.throws(() => validateLogConfig({ Type: 'local', Config: { tag: 'x' } }), /unknown log opt 'tag' for local log driver/);
  assert.throws(() => validateLogConfig({ Config: { 'max-size': '1x' } }), /invalid size: '1x'/);
  assert.throws(() => validateLogConfig({ Config: { 'max-file': '0' } }), /max-file cannot be less than 1/);
});

test('max-size is the log file limit; -1 or none means unlimited', () => {
  assert.equal(logSizeMax({ Config: { 'max-size': '2k' } }), 2048);
  assert.equal(logSizeMax({ Config: { 'max-size': '-1' } }), undefined);
  assert.equal(logSizeMax({ Config: {} }), undefined);
  assert.equal(logSizeMax(undefined), undefined);
});

test("the local driver: 20 MiB files, five, compressed, unless told otherwise (a given size in decimal units)", () => {
  assert.equal(logSizeMax({ Type: 'local', Config: {} }), 20 * 1024 * 1024);
  assert.equal(logSizeMax({ Type: 'local', Config: { 'max-size': '1k' } }), 1000);
  assert.deepEqual(localRotation({ Type: 'local', Config: {} }), { maxSize: 20 * 1024 * 1024, maxFile: 5, compress: true });
  assert.deepEqual(localRotation({ Type: 'local', Config: { 'max-file': '2', compress: 'false' } }), { maxSize: 20 * 1024 * 1024, maxFile: 2, compress: false });
  assert.equal(localRotation({ Type: 'local', Config: { 'max-file': '1' } }), undefined, 'compression with one file is refused');
  assert.throws(() => validateLogConfig({ Type: 'local', Config: { 'max-file': '-1', compress: 'false' } }), { message: 'max file count cannot be less than 0' });
  assert.throws(() => validateLogConfig({ Type: 'local', Config: { 'max-file': 'x' } }), { message: 'invalid value for max-file: x: strconv.Atoi: parsing "x": invalid syntax' });
});

test("the daemon's log-driver and log-opts merge into a container's as Docker merges them", () => {
  const daemon = { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } };
  assert.deepEqual(withDaemonLogDefaults(undefined, daemon), { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } });
  assert.deepEqual(withDaemonLogDefaults({ Type: '', Config: { 'max-size': '1m' } }, daemon), { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '3' } });
  assert.deepEqual(withDaemonLogDefaults({ Type: 'local', Config: {} }, daemon), { Type: 'local', Config: {} }, 'another driver takes none of them');
  assert.deepEqual(withDaemonLogDefaults({ Type: 'none' }, daemon), { Type: 'none', Config: {} });
});
