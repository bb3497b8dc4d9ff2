#!/bin/bash
# tracker_datapath.sh on a xfs TFS (skips when mkfs.xfs is missing).
TR_FSTYPE=xfs exec bash "$(dirname "$0")/tracker_datapath.sh"
