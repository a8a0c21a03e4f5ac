"""The demo company (`levier load-demo`): a French IT services company and two years of history."""
