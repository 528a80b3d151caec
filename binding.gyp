{
  "targets": [
    {
      "target_name": "shm",
      "sources": ["native/shm.cc"],
      "cflags_cc": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
