// Lesson 07's 2-D explorer, live on the course website without a kernel: the shipped 2-D decoders' weights
// (exported by site/conf.py into _static/explorer/) evaluated here, in the page's own JavaScript.
// decode(z) is the package's: Linear layers with ReLU between them, then a sigmoid (course_utils.models).
(() => {
  const base = new URL("explorer/", document.currentScript.src);

  function decode(model, z) {
    let x = Float64Array.from(z), offset = 0;
    model.layers.forEach(([outputs, inputs], i) => {
      const last = i === model.layers.length - 1, y = new Float64Array(outputs);
      const w = model.weights, bias = offset + outputs * inputs;
      for (let o = 0; o < outputs; o++) {
        let sum = w[bias + o];
        for (let k = 0; k < inputs; k++) sum += w[offset + o * inputs + k] * x[k];
        y[o] = last ? 1 / (1 + Math.exp(-sum)) : Math.max(0, sum);
      }
      offset = bias + outputs;
      x = y;
    });
    return x;  // pixel probabilities, 784 = 28 x 28 in row order
  }

  function paint(canvas, pixels) {
    const context = canvas.getContext("2d"), image = context.createImageData(28, 28);
    pixels.forEach((p, i) => {
      const grey = Math.round(255 * p);
      image.data.set([grey, grey, grey, 255], 4 * i);
    });
    context.putImageData(image, 0, 0);
  }

  function slider(label, name, range) {
    const wrap = document.createElement("label");
    wrap.className = "course-live-slider";
    wrap.textContent = label + " ";
    const input = Object.assign(document.createElement("input"), {
      type: "range", min: range[0], max: range[1], step: range[2], value: 0, name: name});
    wrap.append(input);
    return [wrap, input];
  }

  async function start(root) {
    const status = root.querySelector(".course-live-status");
    try {
      const manifest = await (await fetch(new URL("decoders.json", base))).json();
      const models = await Promise.all(manifest.models.map(async (m) => {
        const reply = await fetch(new URL(m.file, base));
        if (!reply.ok) throw new Error(`${m.file}: HTTP ${reply.status}`);
        return {...m, weights: new Float32Array(await reply.arrayBuffer())};
      }));
      const [wrap1, z1] = slider("z₁", "z1", manifest.range), [wrap2, z2] = slider("z₂", "z2", manifest.range);
      const panels = models.map((m) => {
        const figure = document.createElement("figure"), canvas = document.createElement("canvas");
        Object.assign(canvas, {width: 28, height: 28, className: "course-live-image"});
        canvas.dataset.model = m.name;
        canvas.setAttribute("role", "img");
        const caption = document.createElement("figcaption");
        figure.append(canvas, caption);
        return {model: m, canvas, caption, figure};
      });
      const row = document.createElement("div");
      row.className = "course-live-row";
      row.append(...panels.map((p) => p.figure));
      const draw = () => {
        const z = [Number(z1.value), Number(z2.value)];
        for (const p of panels) {
          paint(p.canvas, decode(p.model, z));
          const text = `${p.model.title}: decode(z) at z = (${z[0].toFixed(2)}, ${z[1].toFixed(2)})`;
          p.caption.textContent = text;
          p.canvas.setAttribute("aria-label", `Digit image decoded by the ${text}`);
        }
        root.dataset.z = JSON.stringify(z);
      };
      z1.addEventListener("input", draw);
      z2.addEventListener("input", draw);
      status.replaceWith(wrap1, wrap2, row);
      draw();
      root.dataset.ready = "true";
    } catch (err) {
      status.textContent = `The live explorer could not load the decoders' weights (${err}); ` +
        "the page must be served over HTTP, not opened as a file.";
    }
  }

  document.addEventListener("DOMContentLoaded", () => document.querySelectorAll(".course-live-explorer").forEach(start));
})();
