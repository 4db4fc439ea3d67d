"""Media: uploaded images, checked and re-encoded here, kept by a media store provider."""
