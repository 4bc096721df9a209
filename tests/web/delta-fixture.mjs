// Two small recommender models trained by the native tool (build/native) on catalogues that
// differ — i0-i4 dropped, n0-n2 added, everything retrained — and the item delta from the first
// to the second (`vitrine-recommend delta`): from.safetensors, to.safetensors, delta.safetensors.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

export function makeDeltaFiles(tool, dir) {
  fs.mkdirSync(dir, { recursive: true });
  let s = 7;
  const rand = (n) => { s = (s * 1103515245 + 12345) % 2147483648; return s % n; };
  const train = (name, ids) => {
    fs.writeFileSync(path.join(dir, `${name}.items`), ids.join('\n') + '\n');
    const h = Array.from({ length: 60 }, () => Array.from({ length: 6 }, () => rand(ids.length)).join(' '));
    fs.writeFileSync(path.join(dir, `${name}.h`), h.join('\n') + '\n');
    execFileSync(tool, ['train', '--kind', 'mult-dae', '--histories', path.join(dir, `${name}.h`), '--items', path.join(dir, `${name}.items`),
                        '--save', path.join(dir, `${name}.safetensors`), '--dim', '8', '--epochs', '2', '--threads', '1'], { stdio: 'ignore' });
    return path.join(dir, `${name}.safetensors`);
  };
  const a = Array.from({ length: 30 }, (_, i) => `i${i}`);
  const from = train('from', a), to = train('to', [...a.slice(5), 'n0', 'n1', 'n2']);
  const delta = path.join(dir, 'delta.safetensors');
  execFileSync(tool, ['delta', '--from', from, '--to', to, '--out', delta]);
  return { from, to, delta };
}
