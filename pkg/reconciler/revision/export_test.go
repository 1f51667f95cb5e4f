package revision

// PushRandomImage is pushRandomImage, for the integration tests.
var PushRandomImage = pushRandomImage
