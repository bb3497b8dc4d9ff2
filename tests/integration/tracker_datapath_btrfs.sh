#!/bin/bash
# tracker_datapath.sh on a btrfs TFS (skips when mkfs.btrfs is missing).
TR_FSTYPE=btrfs exec bash "$(dirname "$0")/tracker_datapath.sh"
