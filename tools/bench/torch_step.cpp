// torch_step.cpp: tools/bench/torch's C++ baseline for one training step against libtorch
// directly: Linear(64, 64) on a batch of 64, MSE loss, backward, Adam (lr 1e-3). torch.lua
// runs the same loop through rayl.torch; from the same seed both end at the same loss.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <vector>

namespace {

double s_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// This process's CPU seconds (which other programs on a busy machine disturb less).
double s_cpu() { return (double)std::clock() / CLOCKS_PER_SEC; }

double s_median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double s_min(const std::vector<double> &v) { return *std::min_element(v.begin(), v.end()); }

// Drops every gradient (PyTorch's zero_grad(set_to_none=True), rayl.torch's default).
void s_grads_to_none(torch::nn::Linear &lin) {
  for (auto &p : lin->parameters()) p.mutable_grad().reset();
}

// Microseconds per step over `runs` runs of iters steps: the median wall time, and the
// median and least CPU time (the least is what a busy machine disturbs least); and the
// last loss. to_none: gradients dropped before each step, else zeroed in place (libtorch
// 1.13's Optimizer::zero_grad).
void s_steps(const char *name, int runs, int iters, bool to_none) {
  torch::manual_seed(0);
  torch::nn::Linear lin(64, 64);
  torch::optim::Adam opt(lin->parameters(), torch::optim::AdamOptions(1e-3));
  torch::Tensor x = torch::randn({64, 64}), y = torch::randn({64, 64});
  std::vector<double> wall, cpu;
  torch::Tensor l;
  for (int r = 0; r < runs; r++) {
    double t0 = s_now(), c0 = s_cpu();
    for (int i = 0; i < iters; i++) {
      if (to_none) s_grads_to_none(lin); else opt.zero_grad();
      l = torch::mse_loss(lin->forward(x), y);
      l.backward();
      opt.step();
    }
    wall.push_back((s_now() - t0) / iters * 1e6);
    cpu.push_back((s_cpu() - c0) / iters * 1e6);
  }
  if (name)
    printf("{\"workload\":\"%s\",\"value\":%.3f,\"unit\":\"us/step\",\"cpu_us\":%.3f,\"cpu_min_us\":%.3f,"
           "\"loss\":%.9g}\n",
           name, s_median(wall), s_median(cpu), s_min(cpu), l.item<double>());
}

}  // namespace

int main() {
  torch::set_num_threads(1);
  s_steps(nullptr, 1, 500, true); // warm-up
  s_steps("cpp_linear64_adam_step", 15, 400, true);
  s_steps("cpp_linear64_adam_step_zero_in_place", 15, 400, false);
  return 0;
}
