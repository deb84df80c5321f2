{
  "variables": {
    "asan%": "<!(node -p \"process.env.VNVME_ASAN || 0\")"
  },
  "targets": [
    {
      "target_name": "vnvme",
      "sources": [
        "native/addon.cc",
        "native/channel.cc",
        "native/memory.cc",
        "native/dma-map.cc",
        "native/guest-fault.cc",
        "native/eventfd.cc",
        "native/engine.cc",
        "native/nvme-engine.cc",
        "native/nvme-engine-io.cc",
        "native/nvme-data.cc",
        "native/nvme-protection.cc",
        "native/nvme-zones.cc",
        "native/nvme-data-binding.cc",
        "native/engine-migration.cc",
        "native/perf.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", "-O2", "-fexceptions"],
      "libraries": ["-lpthread"],
      "conditions": [
        ["asan==1", {
          "cflags_cc": ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer", "-g", "-O1"],
          "ldflags": ["-fsanitize=address,undefined"]
        }]
      ]
    }
  ]
}
