"""The pure decision core of hot handover booking: config, slots, pools, suggestions."""
