// Finds a Vulkan driver manifest (ICD) for Dawn in Node on machines without a GPU driver.
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Folders where the Vulkan loader looks for system-wide driver manifests on Linux. */
const SYSTEM_ICD_FOLDERS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

const GPU_DEVICE_FILES = ['/dev/nvidiactl', '/dev/nvidia0', '/dev/dxg'];

export interface IcdChoice {
  /** The manifest to put in VK_ICD_FILENAMES, or null to leave the loader's default search. */
  manifest: string | null;
  reason: string;
}

/**
 * Decides which Vulkan driver Dawn should load. An explicit TRM_VULKAN_ICD or
 * VK_ICD_FILENAMES wins. On a machine with a GPU device file the loader's own search is kept,
 * and on a machine without one a software driver is picked: SwiftShader from a Chromium or
 * Chrome-for-Testing install, else Mesa lavapipe.
 */
export function chooseVulkanIcd(env: NodeJS.ProcessEnv = process.env): IcdChoice {
  if (env.TRM_VULKAN_ICD) return { manifest: env.TRM_VULKAN_ICD, reason: 'TRM_VULKAN_ICD' };
  if (env.VK_ICD_FILENAMES) return { manifest: null, reason: 'VK_ICD_FILENAMES already set' };
  if (process.platform !== 'linux') return { manifest: null, reason: `the loader's default on ${process.platform}` };

  // Mesa installs Intel and Radeon manifests whether or not such a GPU exists, so the
  // manifests alone do not tell; a GPU shows up as a DRM render node or an NVIDIA device file.
  const gpuNode = gpuDeviceFile();
  if (gpuNode) return { manifest: null, reason: `GPU device ${gpuNode}` };

  const system = SYSTEM_ICD_FOLDERS.flatMap(listJson);

  const software = [...swiftShaderManifests(env), ...system.filter((path) => /lvp_icd|lavapipe/.test(path))];
  const found = software.find((path) => existsSync(path));
  if (found) return { manifest: found, reason: 'no hardware Vulkan driver; using a software driver' };
  return { manifest: null, reason: 'no Vulkan driver manifest found' };
}

function swiftShaderManifests(env: NodeJS.ProcessEnv): string[] {
  const candidates = [
    '/usr/lib/chromium/vk_swiftshader_icd.json',
    '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
    '/opt/google/chrome/vk_swiftshader_icd.json',
    '/snap/chromium/current/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  ];
  const cacheRoots = [env.PUPPETEER_CACHE_DIR, join(homedir(), '.cache', 'puppeteer')].filter(Boolean) as string[];
  for (const root of cacheRoots) {
    for (const product of ['chrome', 'chrome-headless-shell']) {
      for (const version of listDirs(join(root, product))) {
        for (const platform of ['chrome-linux64', 'chrome-headless-shell-linux64']) {
          candidates.push(join(root, product, version, platform, 'vk_swiftshader_icd.json'));
        }
      }
    }
  }
  return candidates;
}

/** Returns a device file that shows a GPU on this machine, if any. */
export function gpuDeviceFile(): string | undefined {
  return GPU_DEVICE_FILES.find((path) => existsSync(path)) ?? renderNode();
}

export function hasGpuDevice(): boolean {
  return gpuDeviceFile() !== undefined;
}

function renderNode(): string | undefined {
  try {
    const name = readdirSync('/dev/dri').find((entry) => entry.startsWith('renderD'));
    return name ? `/dev/dri/${name}` : undefined;
  } catch {
    return undefined;
  }
}

function listJson(folder: string): string[] {
  try {
    return readdirSync(folder).filter((name) => name.endsWith('.json')).map((name) => join(folder, name));
  } catch {
    return [];
  }
}

function listDirs(folder: string): string[] {
  try {
    return readdirSync(folder, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}
