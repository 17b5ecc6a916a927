# The orchestrator host's job: vmgate checks the host before the orchestrator starts, then gates every VM it creates.
# Validate: nomad job validate -var vmgate_sha256=<sha256> nomad/orchestrator.nomad.hcl (it fails without the -var)
# Deploy:   nomad job plan / run -var vmgate_sha256=<sha256 of the tarball> nomad/orchestrator.nomad.hcl

variable "vmgate_url" {
  description = "Where the vmgate release tarball (npm run pack) is served from"
  type        = string
  default     = "https://releases.example.internal/vmgate/vmgate-0.1.0-linux-x64.tar.gz"
}

variable "vmgate_sha256" {
  description = "sha256 of that tarball, printed by npm run pack"
  type        = string
}

variable "orchestrator_command" {
  type    = string
  default = "/opt/orchestrator/bin/orchestrator"
}

job "orchestrator" {
  # one orchestrator (and one vmgate) on every sandbox host
  type = "system"

  group "orchestrator" {
    # the gate sidecar and the orchestrator: a crash is retried a few times, then the allocation fails
    restart {
      attempts = 3
      interval = "10m"
      delay    = "20s"
      mode     = "fail"
    }

    network {
      # the gate listens on loopback only: the client's host_network "loopback" is 127.0.0.1/32 (client.hcl.example)
      port "vmgate" {
        static       = 8431
        host_network = "loopback"
      }
    }

    # Nomad itself checks the gate: /healthz is 503 while its link watcher is down
    service {
      provider = "nomad"
      name     = "vmgate"
      port     = "vmgate"

      check {
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "vmgate-preflight" {
      # runs to completion before the orchestrator; a non-zero exit stops it and the log says why
      lifecycle {
        hook    = "prestart"
        sidecar = false
      }

      # A broken host keeps retrying inside this allocation while the orchestrator waits, instead of failing it:
      # a system job's failed allocation is not rescheduled, and each replacement would run --fix again (churn).
      # 3 tries 1 minute apart, then (mode = "delay") a pause until 15 minutes have passed since the first, forever.
      restart {
        attempts = 3
        interval = "15m"
        delay    = "1m"
        mode     = "delay"
      }

      driver = "raw_exec"

      artifact {
        source      = var.vmgate_url
        destination = "local/"
        options {
          checksum = "sha256:${var.vmgate_sha256}"
        }
      }

      config {
        command = "/usr/bin/node"
        args    = ["local/vmgate/dist/src/cli/bin.js", "check", "--fix", "--nomad-meta"]
      }

      # the Task API token, for publishing the prestart verdict as node metadata
      identity {
        env = true
      }

      env {
        VMGATE_NETNS_PATTERN     = "^ns-\\d+$"
        VMGATE_TAP               = "tap0"
        VMGATE_MIN_AGE           = "30s"
        VMGATE_ORCHESTRATOR_COMM = "orchestrator"
        VMGATE_LOG_FORMAT        = "json"
        VMGATE_NODE_ID           = "${node.unique.id}"
      }

      resources {
        cpu    = 100
        memory = 128
      }
    }

    task "vmgate" {
      # started with the prestart tasks and kept running beside the orchestrator
      lifecycle {
        hook    = "prestart"
        sidecar = true
      }

      driver = "raw_exec"

      artifact {
        source      = var.vmgate_url
        destination = "local/"
        options {
          checksum = "sha256:${var.vmgate_sha256}"
        }
      }

      config {
        command = "/usr/bin/node"
        # V8 sized for a small resident footprint: 2 MB semi-spaces (default 16) and heap growth tuned for size: RSS
        # 84 MB instead of 152 MB after a storm at 1,000 slots, latency unchanged (docs/performance.md)
        args = ["--max-semi-space-size=2", "--optimize-for-size",
        "local/vmgate/dist/src/cli/bin.js", "serve", "--listen", "${NOMAD_ADDR_vmgate}", "--nomad-meta"]
      }

      # the Task API token (NOMAD_TOKEN) for node metadata; the policy is nomad/vmgate-policy.hcl
      identity {
        env = true
      }

      # vmgate answers waits in flight with shutting-down and exits 0 within 2 s of SIGTERM
      kill_signal  = "SIGTERM"
      kill_timeout = "5s"

      env {
        VMGATE_NETNS_PATTERN     = "^ns-\\d+$"
        VMGATE_TAP               = "tap0"
        VMGATE_ORCHESTRATOR_COMM = "orchestrator"
        VMGATE_LOG_FORMAT        = "json"
        VMGATE_NODE_ID           = "${node.unique.id}"
        # leak pressure (docs/gate.md): a slot idle this long while the orchestrator runs is a suspected leak;
        # slot-leaks warns from 10 of them and never blocks VM creation unless VMGATE_LEAK_FAIL is a number
        VMGATE_LEAK_AGE          = "10m"
        VMGATE_LEAK_WARN         = "10"
        VMGATE_LEAK_FAIL         = "off"
        # keep the stock orchestrator's own status (what E2B's API places sandboxes by) in step with the host
        # verdict: Unhealthy while not ready for 10s, Healthy again after; "" turns it off (docs/gate.md)
        VMGATE_ORCHESTRATOR_STATUS      = "127.0.0.1:5008"
        VMGATE_ORCHESTRATOR_STATUS_HOLD = "10s"
      }

      resources {
        cpu    = 200
        memory = 128
      }
    }

    task "orchestrator" {
      driver = "raw_exec"

      config {
        command = var.orchestrator_command
      }

      # the orchestrator asks the gate before and while it creates each VM
      env {
        VMGATE_URL = "http://${NOMAD_ADDR_vmgate}/ready-for-vm"
        NODE_ID    = "${node.unique.id}"
      }

      resources {
        cpu    = 1000
        memory = 1024
      }
    }
  }
}
