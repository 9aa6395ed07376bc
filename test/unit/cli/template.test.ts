import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Template, TemplateError, sprintf, templateSource } from '../../../src/lib/go-template.js';
import { ContainerRow, CONTAINER_HEADERS, DEFAULT_CONTAINER_TABLE, IMAGE_HEADERS, imageRows, renderRows, DEFAULT_IMAGE_TABLE } from '../../../src/cli/format/formatter.js';
import type { ContainerSummary, ImageSummary } from '../../../src/api/types.js';

const run = (src: string, data: unknown) => new Template(src).execute(data);

const inspect = {
  Id: 'abc',
  Name: '/web',
  State: { Running: true, Pid: 4242, Status: 'running' },
  Config: { Labels: { 'com.example': 'v1', a: 'b' }, Env: ['A=1', 'B=2'], Cmd: ['sh', '-c', 'x'] },
};

describe('Go template subset', () => {
  it('evaluates fields, nested fields and variables', () => {
    assert.equal(run('{{.Name}} {{.State.Pid}} {{.State.Running}}', inspect), '/web 4242 true');
    assert.equal(run('{{$.Id}}-{{with .State}}{{.Status}}{{end}}', inspect), 'abc-running');
    assert.equal(run('{{.Missing}}', inspect), '<no value>');
  });

  it('supports json, index, len, join, split, upper/lower/title and pipelines', () => {
    assert.equal(run('{{json .Config.Labels}}', inspect), '{"com.example":"v1","a":"b"}');
    assert.equal(run('{{index .Config.Labels "com.example"}}', inspect), 'v1');
    assert.equal(run('{{len .Config.Env}}', inspect), '2');
    assert.equal(run('{{join .Config.Cmd " "}}', inspect), 'sh -c x');
    assert.equal(run('{{.Name | upper}} {{lower "AB"}} {{title "hello world"}}', inspect), '/WEB ab Hello World');
    assert.equal(run('{{index (split "a:b" ":") 1}}', {}), 'b');
    assert.equal(run('{{.Config.Env | json}}', inspect), '["A=1","B=2"]');
  });

  it('supports range (with else and variables), if/else if/else and comparisons', () => {
    assert.equal(run('{{range .Config.Env}}[{{.}}]{{end}}', inspect), '[A=1][B=2]');
    assert.equal(run('{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}', inspect), 'a=b;com.example=v1;');
    assert.equal(run('{{range .Nothing}}x{{else}}empty{{end}}', { Nothing: [] }), 'empty');
    assert.equal(run('{{if .State.Running}}up{{else}}down{{end}}', inspect), 'up');
    assert.equal(run('{{if eq .State.Status "exited"}}e{{else if eq .State.Status "running"}}r{{else}}?{{end}}', inspect), 'r');
    assert.equal(run('{{if and .State.Running (gt .State.Pid 1)}}yes{{end}}', inspect), 'yes');
    assert.equal(run('{{if not .State.Running}}no{{else}}yes{{end}}', inspect), 'yes');
  });

  it('supports printf, println and trim markers', () => {
    assert.equal(run('{{printf "%s:%d" .Name .State.Pid}}', inspect), '/web:4242');
    assert.equal(run('{{println "a" "b"}}', {}), 'a b\n');
    assert.equal(run('a  {{- "b" -}}  c', {}), 'abc');
    assert.equal(sprintf('%-5s|%5s|%q', 'ab', 'cd', 'x'), 'ab   |   cd|"x"');
  });

  it('reports errors for unknown functions and struct fields', () => {
    assert.throws(() => new Template('{{nosuch .}}'), TemplateError);
    const row = new ContainerRow(container(), true);
    assert.throws(() => run('{{.Nope}}', row), /can't evaluate field Nope in type \*formatter.ContainerContext/);
  });

  it('preprocesses --format values like Docker', () => {
    assert.equal(templateSource('table {{.ID}}\\t{{.Names}}'), '{{.ID}}\t{{.Names}}');
    assert.equal(templateSource('json'), '{{json .}}');
  });
});

function container(over: Partial<ContainerSummary> = {}): ContainerSummary {
  return {
    Id: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    Names: ['/happy_turing'],
    Image: 'busybox',
    ImageID: 'sha256:ffff',
    Command: "sh -c 'sleep 1000; echo done'",
    Created: Math.floor(Date.now() / 1000) - 2,
    Ports: [],
    Labels: { 'com.x': 'y' },
    State: 'running',
    Status: 'Up 2 seconds',
    HostConfig: { NetworkMode: 'default' },
    NetworkSettings: { Networks: { bridge: {} } },
    Mounts: [],
    ...over,
  };
}

describe('list formatting', () => {
  it('renders the default ps table with Docker alignment, truncation and quoting', () => {
    const out = renderRows(DEFAULT_CONTAINER_TABLE, [new ContainerRow(container(), true)], CONTAINER_HEADERS);
    const lines = out.split('\n');
    assert.equal(lines[0], 'CONTAINER ID   IMAGE     COMMAND                  CREATED         STATUS         PORTS     NAMES');
    assert.equal(lines[1], `0123456789ab   busybox   "sh -c 'sleep 1000; …"   2 seconds ago   Up 2 seconds             happy_turing`);
    assert.equal(lines[2], '');
  });

  it('prints only the header when there are no rows', () => {
    assert.equal(renderRows(DEFAULT_CONTAINER_TABLE, [], CONTAINER_HEADERS), 'CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n');
  });

  it('supports .Label, json rows and custom table headers', () => {
    const row = new ContainerRow(container(), true);
    assert.equal(renderRows('{{.Label "com.x"}}', [row], CONTAINER_HEADERS), 'y\n');
    const json = JSON.parse(renderRows('json', [row], CONTAINER_HEADERS));
    assert.equal(json.ID, '0123456789ab');
    assert.equal(json.Names, 'happy_turing');
    assert.equal(json.Labels, 'com.x=y');
    assert.equal(renderRows('table {{.Names}}\t{{.State}}', [row], CONTAINER_HEADERS), 'NAMES          STATE\nhappy_turing   running\n');
  });

  it('renders images with repository/tag rows and human sizes', () => {
    const img: ImageSummary = {
      Id: 'sha256:aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899',
      ParentId: '', RepoTags: ['busybox:latest', 'localhost:5000/x/y:1'], RepoDigests: [], Created: Math.floor(Date.now() / 1000) - 3 * 86400,
      Size: 4261550, SharedSize: -1, Labels: {}, Containers: -1,
    };
    const rows = imageRows([img, { ...img, RepoTags: [], Id: 'sha256:1111111111112222' }], { trunc: true, digest: false, needDigest: false });
    const out = renderRows(DEFAULT_IMAGE_TABLE, rows, IMAGE_HEADERS).split('\n');
    assert.equal(out[0], 'REPOSITORY           TAG       IMAGE ID       CREATED      SIZE');
    assert.equal(out[1], 'busybox              latest    aabbccddeeff   3 days ago   4.26MB');
    assert.equal(out[2], 'localhost:5000/x/y   1         aabbccddeeff   3 days ago   4.26MB');
    assert.equal(out[3], '<none>               <none>    111111111111   3 days ago   4.26MB');
  });
});
