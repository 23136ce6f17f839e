#!/usr/bin/env node
// trailbot's command line. Runs the TypeScript sources directly with Node's built-in type stripping.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(`trailbot needs Node.js 22.18 or newer (this is ${process.version}). See README.md, "Set-up".`);
  process.exit(3);
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
