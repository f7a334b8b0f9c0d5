// The page's script: polls /json and shows the speed.
const speed = document.querySelector<HTMLElement>('#speed')!;
const coins = document.querySelector<HTMLElement>('#coins')!;
let previous: { hashes: number; now: number } | undefined;

async function poll(): Promise<void> {
  try {
    const res = await fetch('/json');
    const data = (await res.json()) as { coins: number; hashes: string | null; now: number };
    const sample = { hashes: Number(data.hashes ?? 0), now: data.now };
    if (previous && sample.now > previous.now) {
      speed.textContent = ((sample.hashes - previous.hashes) / (sample.now - previous.now)).toFixed(1);
    }
    previous = sample;
    coins.textContent = String(data.coins);
  } catch {
    speed.textContent = '?';
  }
}
setInterval(() => void poll(), 1000);
void poll();
